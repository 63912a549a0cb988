import './base.css';
import './rooms.css';
